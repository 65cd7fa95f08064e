"""The portfolio simulator: a population of borrowers living a year on the platform.

Borrowers have latent traits (``traits``): income and how much it varies,
how much of it they spend on credit, how often a liquidity shock hits them
and how long it lasts, how willing they are to pay, whether they revolve on
the minimum, which products they want and whether they answer a request for
documents. Every day each borrower acts (``behaviour``) on what a borrower
can see — their lines, their dues (``servicing.dues``), the outcome of their
applications — and on cash the simulator keeps for them; the platform then
runs its outbox handlers and closes the day as in production (``run``).

**Only public services.** Every action is a scenario command executed by the
scenario runner's ``execute_step``: one command, one transaction, through
the same services the API calls (apply, authorised purchase and draw, repay,
convert a statement, submit and verify a document). The simulator never
writes a table, so what the report measures is what the engine did.

**Deterministic for a seed.** Traits come from the seed; each day's draws
come from a generator seeded by (seed, day), and each day's commands run in
borrower order, so the same seed gives the same book, ids included.
"""
