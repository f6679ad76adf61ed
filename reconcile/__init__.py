"""The reconciliation domain: cleaning, blocking, linking and classifying records, free of IO."""
