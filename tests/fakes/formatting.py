"""Telegram's text-formatting rules, as the Bot API server applies them to bot messages.

The parsers follow TDLib's ``parse_html`` / ``parse_markdown_v2`` / ``parse_markdown``
(td/telegram/MessageEntity.cpp) closely enough that markup Telegram rejects is rejected
here too, with the same error wording ("can't parse entities: ..."), and markup Telegram
accepts yields the same plain text and entities (offsets and lengths in UTF-16 units).
"""

from __future__ import annotations

from typing import Any

__all__ = ["EntityParseError", "format_text", "parse_html", "parse_markdown", "parse_markdown_v2", "u16len"]

Entity = dict[str, Any]

_SPACES = " \t\r\n\v\f"
_HTML_TAGS = {
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji", "span",
    "pre", "code", "blockquote",
}  # fmt: skip
_HTML_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "code": "code", "pre": "pre",
}  # fmt: skip
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class EntityParseError(ValueError):
    """Raised for markup Telegram refuses; str(e) is the part after "can't parse entities: "."""


def u16len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _char(text: str, i: int) -> str:
    """text[i], or "" past the end (TDLib reads a terminating NUL there)."""
    return text[i] if i < len(text) else ""


def _is_space(ch: str) -> bool:
    return ch == "" or ch in _SPACES  # TDLib's is_space() is true for the terminating NUL too


def _valid_url(url: str) -> str | None:
    """Normalised URL for a text_link, or None when Telegram would silently drop the entity."""
    url = url.strip()
    if not url or any(c in url for c in " \n\t<>\"'"):
        return None
    scheme, sep, rest = url.partition("://")
    if not sep:
        return (
            f"http://{url}/" if "." in url and "/" not in url else (f"http://{url}" if "." in url else None)
        )
    if scheme.lower() in ("tg", "ton"):
        return url
    if scheme.lower() not in ("http", "https") or not rest or "." not in rest.split("/")[0]:
        return None
    return url


def _decode_html_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decode "&...;" at text[i]; returns (character, index after ';') or None."""
    end = text.find(";", i + 1, i + 12)
    if end == -1:
        return None
    body = text[i + 1 : end]
    try:
        if body.startswith(("#x", "#X")) and len(body) > 2:
            code = int(body[2:], 16)
        elif body.startswith("#") and body[1:].isdigit():
            code = int(body[1:])
        elif body in _NAMED_ENTITIES:
            return _NAMED_ENTITIES[body], end + 1
        else:
            return None
    except ValueError:
        return None
    if code <= 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), end + 1


def parse_html(text: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    u16 = 0
    stack: list[tuple[str, str, int]] = []  # (tag, argument, utf16 offset)
    entities: list[Entity] = []
    i, n = 0, len(text)

    def err(msg: str) -> EntityParseError:
        return EntityParseError(msg)

    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                u16 += u16len(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            out.append(c)
            u16 += u16len(c)
            i += 1
            continue

        begin = i
        begin_byte = _byte_offset(text, begin)
        i += 1
        if _char(text, i) != "/":
            while not _is_space(_char(text, i)) and _char(text, i) != ">":
                i += 1
            if i >= n:
                raise err(f"Unclosed start tag at byte offset {begin_byte}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise err(f'Unsupported start tag "{tag}" at byte offset {begin_byte}')
            argument = ""
            expandable = False
            while _char(text, i) != ">":
                while i < n and _is_space(text[i]):
                    i += 1
                if i >= n:
                    raise err(f"Unclosed start tag at byte offset {begin_byte}")
                if text[i] == ">":
                    break
                attr_begin = i
                while not _is_space(_char(text, i)) and _char(text, i) not in ("=", ">"):
                    i += 1
                attr = text[attr_begin:i].lower()
                if not attr:
                    raise err(f'Empty attribute name in the tag "{tag}" at byte offset {begin_byte}')
                while i < n and _is_space(text[i]):
                    i += 1
                if _char(text, i) != "=":
                    if tag == "blockquote" and attr == "expandable":
                        expandable = True
                        continue
                    raise err(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {begin_byte}"
                    )
                i += 1
                while i < n and _is_space(text[i]):
                    i += 1
                if i >= n:
                    raise err(f'Unclosed start tag "{tag}" at byte offset {begin_byte}')
                value_chars: list[str] = []
                if text[i] not in ("'", '"'):
                    token_begin = i
                    while _char(text, i).isalnum() or _char(text, i) in (".", "-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if not _is_space(_char(text, i)) and _char(text, i) != ">":
                        raise err(
                            f"Unexpected end of name token at byte offset {_byte_offset(text, token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    while i < n and text[i] != quote:
                        if text[i] == "&" and (decoded := _decode_html_entity(text, i)) is not None:
                            value_chars.append(decoded[0])
                            i = decoded[1]
                            continue
                        value_chars.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(value_chars)
                if i >= n:
                    raise err(f"Unclosed start tag at byte offset {begin_byte}")
                if tag == "a" and attr == "href":
                    argument = value
                elif tag == "code" and attr == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise err(f'Tag "span" must have class "tg-spoiler" at byte offset {begin_byte}')
            if tag == "blockquote" and expandable:
                argument = "expandable"
            stack.append((tag, argument, u16))
            i += 1  # skip '>'
            continue

        # end tag
        if not stack:
            raise err(f"Unexpected end tag at byte offset {begin_byte}")
        j = i + 1
        while not _is_space(_char(text, j)) and _char(text, j) != ">":
            j += 1
        end_name = text[i + 1 : j].lower()
        while j < n and _is_space(text[j]):
            j += 1
        if _char(text, j) != ">":
            raise err(f"Unclosed end tag at byte offset {begin_byte}")
        tag, argument, start = stack.pop()
        if end_name and end_name != tag:
            raise err(
                f'Unmatched end tag at byte offset {begin_byte}, expected "</{tag}>", found "</{end_name}>"'
            )
        i = j + 1
        if u16 == start:
            continue
        entity: Entity = {"offset": start, "length": u16 - start}
        if tag in _HTML_SIMPLE:
            entity["type"] = _HTML_SIMPLE[tag]
            if tag == "code" and argument:
                entity["language"] = argument
            if tag == "pre" and entities:
                last = entities[-1]
                if last["type"] == "code" and last["offset"] == start and last["length"] == entity["length"]:
                    entities.pop()
                    if "language" in last:
                        entity["language"] = last["language"]
        elif tag == "blockquote":
            entity["type"] = "expandable_blockquote" if argument == "expandable" else "blockquote"
        elif tag == "tg-emoji":
            if not argument.isdigit():
                raise err("Invalid custom emoji identifier specified")
            entity.update(type="custom_emoji", custom_emoji_id=argument)
        else:  # "a"
            url = _valid_url(argument or _text_since(out, start))
            if url is None:
                continue
            entity.update(type="text_link", url=url)
        entities.append(entity)

    if stack:
        raise err(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), _sorted(entities)


def _text_since(out: list[str], u16_start: int) -> str:
    """The plain text produced since UTF-16 offset u16_start (for <a> without href)."""
    whole = "".join(out)
    units = whole.encode("utf-16-le")[u16_start * 2 :]
    return units.decode("utf-16-le")


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}  # fmt: skip


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    out: list[str] = []
    u16 = 0
    stack: list[dict[str, Any]] = []  # {"type", "offset", "byte", "arg"}
    entities: list[Entity] = []
    quote_start: int | None = None  # utf16 offset of an open blockquote (lines starting with '>')
    i, n = 0, len(text)

    def emit(ch: str) -> None:
        nonlocal u16
        out.append(ch)
        u16 += u16len(ch)

    def reserved(ch: str) -> EntityParseError:
        return EntityParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")

    while i < n:
        c = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            emit(text[i + 1])
            i += 2
            continue
        if c == "\n" and quote_start is not None and _char(text, i + 1) != ">":
            entities.append({"type": "blockquote", "offset": quote_start, "length": u16 - quote_start})
            quote_start = None
        in_code = bool(stack) and stack[-1]["type"] in ("code", "pre")
        if c not in ("`" if in_code else _MDV2_RESERVED):
            emit(c)
            i += 1
            continue
        if c == ">" and at_line_start and not stack:
            if quote_start is None:
                quote_start = u16
            i += 1
            continue
        top = stack[-1]["type"] if stack else None
        nxt, nxt2 = _char(text, i + 1), _char(text, i + 2)
        closes = {
            "bold": c == "*",
            "italic": c == "_" and nxt != "_",
            "underline": c == "_" and nxt == "_",
            "strikethrough": c == "~",
            "spoiler": c == "|" and nxt == "|",
            "code": c == "`",
            "pre": c == "`" and nxt == "`" and nxt2 == "`",
            "text_link": c == "]",
            "custom_emoji": c == "]",
            None: False,
        }[top]
        if not closes:
            byte = _byte_offset(text, i)
            arg = ""
            if c == "_" and nxt == "_":
                kind = "underline"
                i += 1
            elif c == "_":
                kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|" and nxt == "|":
                kind = "spoiler"
                i += 1
            elif c == "[":
                kind = "text_link"
            elif c == "`" and nxt == "`" and nxt2 == "`":
                kind = "pre"
                i += 3
                lang_end = i
                while not _is_space(_char(text, lang_end)) and _char(text, lang_end) != "`":
                    lang_end += 1
                if lang_end != i and lang_end < n and text[lang_end] != "`":
                    arg = text[i:lang_end]
                    i = lang_end
                if _char(text, i) in ("\n", "\r"):
                    i += 2 if _char(text, i + 1) in ("\n", "\r") and text[i] != text[i + 1] else 1
                i -= 1
            elif c == "`":
                kind = "code"
            elif c == "!" and nxt == "[":
                kind = "custom_emoji"
                i += 1
            else:
                raise reserved(c)
            stack.append({"type": kind, "offset": u16, "byte": byte, "arg": arg})
            i += 1
            continue

        # end of an entity
        opened = stack.pop()
        kind = opened["type"]
        skip = u16 == opened["offset"]
        entity: Entity = {"type": kind, "offset": opened["offset"], "length": u16 - opened["offset"]}
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind == "pre":
            i += 2
            if opened["arg"]:
                entity["language"] = opened["arg"]
        elif kind in ("text_link", "custom_emoji"):
            url = ""
            if nxt != "(":
                url = _text_since(out, opened["offset"])
            else:
                i += 2
                url_begin = i
                chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        chars.append(text[i + 1])
                        i += 2
                        continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise EntityParseError(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}"
                    )
                url = "".join(chars)
            if kind == "custom_emoji":
                prefix = "tg://emoji?id="
                if not url.startswith(prefix) or not url[len(prefix) :].isdigit():
                    raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
                entity["custom_emoji_id"] = url[len(prefix) :]
            else:
                normalized = _valid_url(url)
                if normalized is None:
                    skip = True
                else:
                    entity["url"] = normalized
        if not skip:
            entities.append(entity)
        i += 1

    if stack:
        top = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[top['type']]} entity at byte offset {top['byte']}"
        )
    if quote_start is not None and u16 > quote_start:
        entities.append({"type": "blockquote", "offset": quote_start, "length": u16 - quote_start})
    return "".join(out), _sorted(entities)


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy "Markdown" parse mode: *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    out: list[str] = []
    u16 = 0
    entities: list[Entity] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and _char(text, i + 1) in ("_", "*", "`", "["):
            out.append(text[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in ("_", "*", "`", "["):
            out.append(c)
            u16 += u16len(c)
            i += 1
            continue
        begin_byte = _byte_offset(text, i)
        end_char = "]" if c == "[" else c
        is_pre = False
        language = ""
        i += 1
        if c == "`" and _char(text, i) == "`" and _char(text, i + 1) == "`":
            is_pre = True
            i += 2
            lang_end = i
            while not _is_space(_char(text, lang_end)) and _char(text, lang_end) != "`":
                lang_end += 1
            if lang_end != i and lang_end < n and text[lang_end] != "`":
                language = text[i:lang_end]
                i = lang_end
            if _char(text, i) in ("\n", "\r"):
                i += 2 if _char(text, i + 1) in ("\n", "\r") and text[i] != text[i + 1] else 1
        start = u16
        while i < n and (
            text[i] != end_char or (is_pre and not (_char(text, i + 1) == "`" and _char(text, i + 2) == "`"))
        ):
            out.append(text[i])
            u16 += u16len(text[i])
            i += 1
        if i >= n:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin_byte}")
        length = u16 - start
        if c == "[":
            url = ""
            if _char(text, i + 1) == "(":
                close = text.find(")", i + 2)
                if close != -1:
                    url = text[i + 2 : close]
                    i = close
            url_ok = _valid_url(url or _text_since(out, start))
            if length and url_ok:
                entities.append({"type": "text_link", "offset": start, "length": length, "url": url_ok})
        elif length:
            kind = {"_": "italic", "*": "bold"}.get(c, "pre" if is_pre else "code")
            entity: Entity = {"type": kind, "offset": start, "length": length}
            if is_pre and language:
                entity["language"] = language
            entities.append(entity)
        i += 3 if is_pre else 1
    return "".join(out), _sorted(entities)


def _sorted(entities: list[Entity]) -> list[Entity]:
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def _strip(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace like TDLib does, clipping entities to the remaining text."""
    stripped_left = text.lstrip()
    shift = u16len(text) - u16len(stripped_left)
    result = stripped_left.rstrip()
    total = u16len(result)
    fixed: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] - shift + entity["length"], total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return result, fixed


def format_text(text: str, parse_mode: str | None, entities: list[Entity] | None) -> tuple[str, list[Entity]]:
    """What Telegram stores for (text, parse_mode, entities): plain text + entities, whitespace-trimmed.

    Explicit ``entities`` win over ``parse_mode`` (as in the Bot API). Raises EntityParseError for
    markup Telegram rejects, ValueError("unsupported parse_mode") for an unknown mode.
    """
    if entities is not None:
        parsed, found = text, [dict(e) for e in entities]
    elif not parse_mode:
        parsed, found = text, []
    else:
        mode = parse_mode.lower()
        if mode == "html":
            parsed, found = parse_html(text)
        elif mode == "markdownv2":
            parsed, found = parse_markdown_v2(text)
        elif mode == "markdown":
            parsed, found = parse_markdown(text)
        else:
            raise ValueError("unsupported parse_mode")
    return _strip(parsed, found)
