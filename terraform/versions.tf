terraform {
  # 1.6: precondition/validation features used here; tested statically (see tests/test_terraform.py).
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}
