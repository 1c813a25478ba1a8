"""A batch loss's all-sizes proof, printed: one line per lemma, the closed form, and JSON."""

from __future__ import annotations

from derive.core.verdict import _number

#: Version of the all-sizes JSON, bumped on any incompatible change.
SCHEMA = "derive.all-sizes/1"


def _sizes(proof) -> str:
    names = dict.fromkeys(name for result in proof.results for name in result.lemma.sizes)
    return ", ".join(sorted(names, key=("N", "D", "K").index)) or "no sizes"


def _counts(proof) -> str:
    statuses = [result.status for result in proof.results]
    return ", ".join(f"{statuses.count(s)} {s}" for s in ("proven", "refuted", "unproven") if statuses.count(s))


def all_sizes_text(proof) -> str:
    """The proof as a person reads it: a header, one line per lemma, the conclusion, the verdict.

    Examples
    --------
    >>> from derive.oracle.proof import all_sizes_proof
    >>> print(all_sizes_text(all_sizes_proof("mean-squared-error")).splitlines()[0])
    mean-squared-error: proven for every N, D (0-based indices), 5 lemmas: 5 proven
    """
    width = max(len(result.lemma.name) for result in proof.results)
    lines = [f"{proof.loss}: {proof.status} for every {_sizes(proof)} (0-based indices), "
             f"{len(proof.results)} lemmas: {_counts(proof)}"]
    for result in proof.results:
        lines.append(f"  {result.status:<8}  {result.lemma.name:<{width}}  {result.lemma.statement}")
        if result.status != "proven":
            lines.append(f"            {result.how}")
    lines.append("")
    lines.append(f"by the chain rule: {proof.conclusion}")
    lines.append(f"verdict: {proof.status}" + ("" if proof.proven else " (the conclusion rests on a lemma not proven)"))
    return "\n".join(lines)


def all_sizes_json(proof) -> dict:
    """The proof as data.

    Schema ``derive.all-sizes/1``::

        {"schema": "derive.all-sizes/1",
         "loss": str,                       # catalog name
         "status": "proven" | "refuted" | "unproven",   # the worst lemma's
         "sizes": [str],                    # every size some lemma is proven for: "N", "D", "K"
         "conclusion": str,                 # LaTeX of the batch closed form
         "lemmas": [{"name": str,
                     "statement": str,      # LaTeX, 0-based indices
                     "sizes": [str],        # the sizes this lemma is stated for
                     "status": str,
                     "how": str,            # one line: how it was proven, or why not
                     "counterexample": null | {
                         "sizes": {str: int}, "indices": {str: int},
                         "point": {str: str},          # each atom (X[1, 0]) and its exact value
                         "expected": str, "claimed": str}}]}

    Examples
    --------
    >>> from derive.oracle.proof import all_sizes_proof
    >>> data = all_sizes_json(all_sizes_proof("mean-squared-error"))
    >>> data["schema"], data["status"], data["lemmas"][0]["counterexample"]
    ('derive.all-sizes/1', 'proven', None)
    """

    def counterexample(found) -> dict | None:
        if found is None:
            return None
        return {
            "sizes": dict(found.sizes),
            "indices": {str(index): value for index, value in found.indices.items()},
            "point": {str(atom): str(value) for atom, value in found.point.items()},
            "expected": _number(found.expected),
            "claimed": _number(found.claimed),
        }

    return {
        "schema": SCHEMA,
        "loss": proof.loss,
        "status": proof.status,
        "sizes": [name for name in ("N", "D", "K") if any(name in r.lemma.sizes for r in proof.results)],
        "conclusion": proof.conclusion,
        "lemmas": [
            {
                "name": result.lemma.name,
                "statement": result.lemma.statement,
                "sizes": list(result.lemma.sizes),
                "status": result.status,
                "how": result.how,
                "counterexample": counterexample(result.counterexample),
            }
            for result in proof.results
        ],
    }
