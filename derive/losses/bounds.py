"""The sizes the seed's derivation accepts, in a module that imports nothing, so that
``derive --help`` can name them without loading SymPy.

>>> MAX_CLASSES, MAX_FEATURES
(1000, 16)
"""

#: Largest number of classes accepted (ImageNet has 1000).  The rows and the audit
#: took about 9 s at K = 1000, D = 3 on a shared 2-core machine (the route adds a
#: constant 2.6 s), growing a little faster than K (README "Bounds", ``benchmarks/bench_verify.py``).
MAX_CLASSES = 1000
#: Largest number of features accepted: at the corner K = 1000, D = 16 a full
#: ``verify()`` took about 31 s, within the 60 s budget.
MAX_FEATURES = 16
