variable "environment" {
  description = "Environment name (dev, staging, prod); prefixes every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 characters: a lowercase letter, then lowercase letters, digits or '-'."
  }
}

variable "aws_region" {
  description = "AWS region to deploy to."
  type        = string
}

variable "database_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the PostgreSQL URL (postgres://user:password@host:5432/db) or the RDS JSON (host, port, username, password, dbname). Each function reads it at cold start; its value never enters the Terraform state or the functions' configuration."
  type        = string
}

variable "database_secret_kms_key_arn" {
  description = "ARN of the customer-managed KMS key the database secret is encrypted with, if any: the functions may then decrypt with it through Secrets Manager. null: the secret uses the AWS managed key."
  type        = string
  default     = null
}

variable "database_url_options" {
  description = "Query options added to the secret's URL (CONVEYOR_DATABASE_URL_OPTIONS), e.g. sslmode=verify-full&sslrootcert=/var/task/rds-global-bundle.pem. Empty: none."
  type        = string
  default     = ""
}

variable "database_max_connections" {
  description = "The database's max_connections (PostgreSQL's default is 100; RDS derives it from the instance's memory). With RDS Proxy, the connections the proxy accepts from clients."
  type        = number
  default     = 100

  validation {
    condition     = var.database_max_connections >= 1
    error_message = "database_max_connections must be at least 1."
  }
}

variable "database_reserved_connections" {
  description = "Connections kept for everything but the functions: superuser slots, migrations, operators, monitoring."
  type        = number
  default     = 10

  validation {
    condition     = var.database_reserved_connections >= 0
    error_message = "database_reserved_connections must be 0 or more."
  }
}

variable "database_pool_size" {
  description = "Database connections each Lambda execution environment opens at most (CONVEYOR_DB_POOL_SIZE)."
  type        = number
  default     = 2

  validation {
    condition     = var.database_pool_size >= 1 && var.database_pool_size <= 100
    error_message = "database_pool_size must be 1-100."
  }
}

variable "function_concurrency" {
  description = "Concurrency per function name, instead of the share of the connection budget computed in database.tf (topic functions take at least 2)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for name, c in var.function_concurrency : c >= 1])
    error_message = "every function_concurrency value must be at least 1."
  }
}

variable "lambda_artifact_dir" {
  description = "Where `cargo lambda build --release --arm64 --output-format zip` put the zips (<dir>/<function>/bootstrap.zip); relative paths are relative to this folder."
  type        = string
  default     = "../../target/lambda"
}

variable "log_retention_days" {
  description = "Days the functions' CloudWatch logs are kept."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "reserve_concurrency" {
  description = "Reserve each function's concurrency within the connection budget (jobs 1: never two runs at once). Turn off in accounts whose concurrency quota is too small to reserve it; jobs are then not held to one run at a time."
  type        = bool
  default     = true
}

variable "sqs_batch_size" {
  description = "Most SQS messages per Lambda invocation."
  type        = number
  default     = 10

  validation {
    condition     = var.sqs_batch_size >= 1 && var.sqs_batch_size <= 10000
    error_message = "sqs_batch_size must be 1-10000."
  }
}

variable "sqs_batching_window_seconds" {
  description = "Longest Lambda waits to fill a batch (0-300 s; at least 1 when sqs_batch_size > 10)."
  type        = number
  default     = 1

  validation {
    condition     = var.sqs_batching_window_seconds >= 0 && var.sqs_batching_window_seconds <= 300
    error_message = "sqs_batching_window_seconds must be 0-300."
  }
}

variable "tracing_mode" {
  description = "Lambda X-Ray tracing: Active or PassThrough."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "migrate_on_cold_start" {
  description = "Run the database migrations when a Lambda starts (CONVEYOR_MIGRATE). Turn off when migrations run elsewhere."
  type        = bool
  default     = true
}

variable "inbox_retention_days" {
  description = "Days an inbox (idempotency) row is kept before the conveyor-maintenance job deletes it (CONVEYOR_INBOX_RETENTION_DAYS). At least 14: a message can come back from a dead-letter queue up to 14 days later, and an event whose row is gone runs again."
  type        = number
  default     = 14

  validation {
    condition     = var.inbox_retention_days >= 14 && var.inbox_retention_days <= 36500 && floor(var.inbox_retention_days) == var.inbox_retention_days
    error_message = "inbox_retention_days must be a whole number of days from 14 (SQS keeps a message up to 14 days, and the inbox must outlive every redelivery) to 36500."
  }
}

variable "event_retention_days" {
  description = "Days the event store keeps an event before the conveyor-maintenance job removes it (CONVEYOR_EVENT_RETENTION_DAYS); on PostgreSQL whole day partitions are dropped."
  type        = number
  default     = 365

  validation {
    condition     = var.event_retention_days >= 1 && var.event_retention_days <= 36500 && floor(var.event_retention_days) == var.event_retention_days
    error_message = "event_retention_days must be a whole number of days from 1 to 36500."
  }
}

variable "prune_batches" {
  description = "Most statements of 1,000 inbox rows one run of the conveyor-maintenance job (every 5 minutes) deletes (CONVEYOR_PRUNE_BATCHES)."
  type        = number
  default     = 10

  validation {
    condition     = var.prune_batches >= 1 && var.prune_batches <= 36500 && floor(var.prune_batches) == var.prune_batches
    error_message = "prune_batches must be a whole number from 1 to 36500."
  }
}

variable "schedules_enabled" {
  description = "Whether the jobs' schedules fire."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when an alarm of alarms.tf fires (dead letters, oldest queued message, Lambda errors and throttles), and when it clears."
  type        = list(string)
  default     = []
}

variable "vpc_subnet_ids" {
  description = "Subnets for the Lambdas, when the database is only reachable inside a VPC (they then also need a NAT gateway or VPC endpoints for SQS and EventBridge). Empty: no VPC."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the Lambdas when vpc_subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
