terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 6.0" }
  }
  backend "s3" {
    bucket       = "acme-tofu-state"
    key          = "envs/prod/storage.tfstate"
    region       = "eu-west-1"
    use_lockfile = true
  }
}

provider "aws" {
  region = "eu-west-1"
  # Counted by kube infra: tags_all includes them.
  default_tags {
    tags = { owner = "payments", team = "payments" }
  }
}

module "invoices" {
  source  = "../../../modules/bucket"
  name    = "acme-invoices"
  service = "billing"
}
