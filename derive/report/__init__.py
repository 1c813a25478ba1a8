"""What is printed: LaTeX, JSON, notebook display and documentation pages of verified results.

``report`` formats verdicts; it never proves anything itself.
"""
