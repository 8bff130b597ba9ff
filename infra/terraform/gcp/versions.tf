terraform {
  # 1.9: validations that name other inputs (native mode's required settings)
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}
