"""Double-entry journal: accounts, postings, balances and checks."""
