"""Loss-agnostic derivations: steps as data, and the verdict on a whole derivation."""

from derive.proof.step import DerivationVerdict, Pairs, Step, StepResult

__all__ = ["DerivationVerdict", "Pairs", "Step", "StepResult"]
