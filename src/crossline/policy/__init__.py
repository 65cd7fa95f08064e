"""Credit policy as data: GoRules JDM decision tables, evaluated two ways.

A lender group's policy is a versioned bundle of JDM decision graphs
(``bundle.py``). A graph is checked at load against the subset of JDM and ZEN
expressions that crossline compiles (``jdm.py``, ``cells.py``); anything else
is refused with the node, row and column named. A single decision runs in
``zen-engine``; a batch runs as Polars expressions compiled from the same
tables (``evaluate.py``). Both give the same result on every row, which a
property test checks.
"""
