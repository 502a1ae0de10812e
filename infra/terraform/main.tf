# conveyor on AWS: one Lambda per function of the catalog. Topic functions read an SQS queue fed
# by an EventBridge rule on the conveyor bus; jobs are invoked by EventBridge Scheduler. Every
# resource iterates over local.functions, which functions.tf.json (generated from the catalog by
# `conveyor gen terraform`) defines.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(var.tags, {
      Application = "conveyor"
      Environment = var.environment
    })
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  # Consumers: one queue, DLQ, rule and event source mapping each.
  topic_functions = { for name, f in local.functions : name => f if f.kind == "topic" }

  # Consumers with an ordering key (the per-order ones): FIFO queues, one message group per
  # key. conveyor's publishers send the events these functions take straight to their queues
  # (CONVEYOR_ORDERED_ROUTES), since a rule target can only set one fixed group.
  ordered_functions = { for name, f in local.topic_functions : name => f if f.ordering_key != null }

  # Saga orchestrators (subscribed to saga.timer_fired): each arms its saga's timers as SQS delay
  # messages to its own queue (CONVEYOR_SAGA_TIMER_QUEUE_URL), 15 minutes at most per message.
  saga_orchestrators = {
    for name, f in local.topic_functions : name => f if length([for t in f.topics : t if t == "saga.timer_fired"]) > 0
  }

  # The sources conveyor's publishers set (the services' app ids). Rules of ordered functions
  # skip them: those events already reached the FIFO queues directly.
  conveyor_sources = ["order-worker", "fulfillment-worker", "warehouse-worker"]

  # Cron jobs: one schedule, scheduler role and DLQ each.
  jobs = { for name, f in local.functions : name => f if f.kind == "job" }

  # The job that prunes the inbox, the only function given the retention variables.
  maintenance_function = "conveyor-maintenance"

  # What a job receives. Written out rather than jsonencode()d: jsonencode escapes < and > as
  # \u003c and \u003e, and Scheduler would then not substitute its placeholders.
  scheduler_input = "{\"scheduled_time\":\"<aws.scheduler.scheduled-time>\",\"attempt\":\"<aws.scheduler.attempt-number>\"}"

  # Lambdas attach to these subnets when any are given (to reach a database in a VPC).
  in_vpc = length(var.vpc_subnet_ids) > 0
}

# Every event conveyor publishes (detail-type = topic, detail = the CloudEvent) goes to this bus.
resource "aws_cloudwatch_event_bus" "bus" {
  name = "${var.environment}-conveyor"
}
