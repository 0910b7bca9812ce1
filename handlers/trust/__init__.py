"""Trust: /proof, /reserves, and the notices of withdrawals followed on chain."""
