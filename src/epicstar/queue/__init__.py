"""Background work: a Huey queue delivers jobs; the database stays the truth."""
