variable "name" { type = string }
variable "service" { type = string }

resource "aws_s3_bucket" "this" {
  bucket = var.name
  tags   = { service = var.service }
}
