"""Helpers shared by the test suites: free ports, a real PostgreSQL server."""
