"""Pure vectorised rules over Polars frames, shared by real time (one borrower) and batch."""
