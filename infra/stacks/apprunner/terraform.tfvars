# The apprunner stack's settings: what differs from variables.tf's defaults.
# Administrators and the release workflow both apply this file, so a change
# here is a change for both; terraform.tfvars.example lists every setting.
# scripts/deploy.sh passes the image and the state bucket itself.

# The repository whose release workflow may deploy: set it to your fork.
github_repository = "your-org/sre-kata"
