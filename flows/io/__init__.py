"""Reading input files: CSV and xlsx deliveries into string frames with their lineage."""
