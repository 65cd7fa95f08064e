"""The credit bureau: month-end reporting with prior notice, disputes, inquiries and reports."""
