"""End-of-day: close the business date, partition by partition, exactly once."""
