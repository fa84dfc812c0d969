# The registry stack's settings: what differs from variables.tf's defaults.
# scripts/bootstrap.sh applies it with this file; terraform.tfvars.example
# lists every setting. The state bucket is passed by the script.

# The repository whose workflows may push and destroy: set it to your fork.
github_repository = "your-org/sre-kata"
