"""The catalog service: organizations, vendor profiles and the ownership ledger."""
