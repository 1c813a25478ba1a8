"""Judging a language-model cross-entropy (PyTorch), logits level or fused linear, against the
exact oracle of ``derive.oracle.lm``.

``conventions`` tells how the function is called and calls it, ``inputs`` the option
combinations and random inputs judged, ``mistakes`` names the family's known mistakes, ``check``
runs it all and gives the verdict (``check_lm_implementation``).  ``accumulation`` judges a
gradient-accumulation step against the full batch's gradient (``check_accumulation``).
"""

from derive.implementation.lm.accumulation import AccumulationReport, check_accumulation
from derive.implementation.lm.check import LMReport, check_lm_implementation

__all__ = ["AccumulationReport", "LMReport", "check_accumulation", "check_lm_implementation"]
