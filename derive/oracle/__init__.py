"""The oracle: a batch loss's exact gradient at any size.

``proof`` proves the closed form for every size (symbolic K, D and N, from lemmas that SymPy
verifies); ``batch`` evaluates it stably in float64 NumPy at a user's own sizes; ``reference``
spot-checks that evaluation against mpmath at 50 digits; ``document`` compiles any proven
per-sample document (``derive check-impl --doc``) into the same kind of oracle.
"""
