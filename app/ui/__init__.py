"""Display helpers: charts, tables and formatting. No business logic."""
