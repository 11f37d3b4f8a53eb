"""The requirements service: clients (AI labs), their needs and their neutrality policy."""
