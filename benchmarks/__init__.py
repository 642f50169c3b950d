"""Performance benchmarks: ``make bench`` runs them and writes their figures."""
