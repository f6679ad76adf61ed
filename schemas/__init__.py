"""The data contract: input columns, record schemas, codes and labels."""
