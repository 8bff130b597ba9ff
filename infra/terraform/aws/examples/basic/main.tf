# A real deployment for an Aviatrix controller in AWS (native mode, the module's default): the
# controller writes its own backup into its own bucket, and the functions run in the controller's
# VPC so they reach its private address on 443. Build the package first
# (make package-aws), fill in terraform.tfvars (see the module README), then
#   terraform init && terraform apply
# For a controller, proxy or emulator that serves export_config instead, set backup_mode = "export"
# on the module and drop the native_* inputs.
terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.70"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "Region of the controller and its backups."
  type        = string
  default     = "us-east-1"
}

variable "bucket_name" {
  description = "Name of the backup bucket to create (ours, not the controller's)."
  type        = string
}

variable "controller_private_ip" {
  description = "The controller's private IPv4 address: the functions call it there, and its backup file is CloudN_<ip>_save_cloudx_config.enc."
  type        = string
}

variable "controller_url" {
  description = "https:// address the functions call, reachable from function_subnet_ids and named in the controller's certificate. Null: https://<controller_private_ip>."
  type        = string
  default     = null
}

variable "controller_ca_bundle" {
  description = "PEM of the controller's certificate (controllers ship self-signed ones), e.g. from `openssl s_client -connect <ip>:443 -showcerts`."
  type        = string
}

variable "controller_tls_server_name" {
  description = "The name in the controller's certificate (`openssl x509 -noout -subject -ext subjectAltName`), when it does not list the private IP the functions call. Null: the certificate lists that IP."
  type        = string
  default     = null
}

variable "controller_bucket_name" {
  description = "The S3 bucket the controller writes its own backup into (the bucket set in the controller's own backup settings)."
  type        = string
}

variable "controller_account_name" {
  description = "The controller's access account that writes controller_bucket_name; a replacement gets it under this name."
  type        = string
}

variable "controller_vpc_id" {
  description = "VPC of the controller."
  type        = string
}

variable "controller_security_group_id" {
  description = "Security group of the controller instance: it gets a rule allowing 443 in from the functions."
  type        = string
}

variable "function_subnet_ids" {
  description = "Private subnets of the controller's VPC for the functions, with a route to S3, Secrets Manager, EC2 and Auto Scaling (a NAT gateway or VPC endpoints): a Lambda in a VPC gets no public address."
  type        = list(string)
}

variable "alert_email" {
  description = "Where alarms go (confirm the subscription e-mail)."
  type        = string
  default     = null
}

# The functions' own security group: HTTPS out to the controller, and to the AWS APIs (S3, Secrets
# Manager, EC2, Auto Scaling) through the NAT gateway or the VPC endpoints. Nothing comes in.
resource "aws_security_group" "functions" {
  name_prefix = "aviatrix-ctrl-backup-functions-"
  description = "controller-backup Lambda functions: HTTPS out to the controller and the AWS APIs"
  vpc_id      = var.controller_vpc_id
  tags        = { project = "controller-backup" }
}

resource "aws_vpc_security_group_egress_rule" "functions_to_controller" {
  security_group_id            = aws_security_group.functions.id
  description                  = "The controller API over HTTPS"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = var.controller_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "functions_to_aws_apis" {
  security_group_id = aws_security_group.functions.id
  description       = "AWS APIs (S3, Secrets Manager, EC2, Auto Scaling) over HTTPS"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

# The controller's side: 443 in from the functions' security group only.
resource "aws_vpc_security_group_ingress_rule" "controller_from_functions" {
  security_group_id            = var.controller_security_group_id
  description                  = "controller-backup functions: the controller API over HTTPS"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.functions.id
}

module "controller_backup" {
  source = "../.."

  name              = "aviatrix-ctrl-backup"
  package_path      = "${path.module}/../../../../../dist/aws/lambda.zip"
  bucket_name       = var.bucket_name
  schedule_timezone = "UTC"
  alert_email       = var.alert_email

  # the controller, reached over its private network with its own certificate pinned
  controller_url             = coalesce(var.controller_url, "https://${var.controller_private_ip}")
  controller_ca_bundle       = var.controller_ca_bundle
  controller_tls_server_name = var.controller_tls_server_name
  subnet_ids                 = var.function_subnet_ids
  security_group_ids         = [aws_security_group.functions.id]
  # a replacement controller is called at its own private IP (it has no address yet that follows
  # it); only an instance tagged Name=AviatrixController (replacement_tag) is restored
  replacement_url = "https://{private_ip}"

  # native mode (the module's default): the controller's own backup in its own bucket
  controller_private_ip = var.controller_private_ip # CloudN_<ip>_save_cloudx_config.enc
  native_bucket_name    = var.controller_bucket_name
  native_account_name   = var.controller_account_name
  # NATIVE_AWS_ACCOUNT_NUMBER defaults to this account; its roles to aviatrix-role-app / -ec2:
  # native_aws_account_number = "123456789012"

  # a BYOL licence: the customer id goes to a replacement before its set-up
  # create_customer_id_secret = true

  tags = {
    project = "controller-backup"
  }
}

output "backup_function_url" {
  description = "POST /backup here, signed with SigV4."
  value       = module.controller_backup.backup_function_url
}

output "restore_function_url" {
  description = "POST /restore here, signed with SigV4."
  value       = module.controller_backup.restore_function_url
}

output "controller_password_secret_arn" {
  description = "Put the controller password here."
  value       = module.controller_backup.controller_password_secret_arn
}

output "backup_invoke_policy_arn" {
  description = "Attach to the roles allowed to take backups (not to restore)."
  value       = module.controller_backup.backup_invoke_policy_arn
}

output "restore_invoke_policy_arn" {
  description = "Attach to the (few) roles allowed to restore."
  value       = module.controller_backup.restore_invoke_policy_arn
}
