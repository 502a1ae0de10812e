# Jobs: one EventBridge Scheduler schedule each, in UTC, invoking the job's Lambda with the
# scheduled time; Scheduler's own delivery failures go to the job's DLQ.

resource "aws_scheduler_schedule_group" "jobs" {
  name = "${var.environment}-conveyor"
}

resource "aws_iam_role" "scheduler" {
  for_each = local.jobs

  name        = "${var.environment}-${each.key}-scheduler"
  description = "Lets EventBridge Scheduler invoke the conveyor job ${each.key}."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "SchedulerAssumesRole"
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = ["sts:AssumeRole"]
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
      }
    }]
  })
}

resource "aws_iam_role_policy" "scheduler" {
  for_each = local.jobs

  name = "conveyor-schedule"
  role = aws_iam_role.scheduler[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeOwnFunction"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [aws_lambda_function.fn[each.key].arn]
      },
      {
        Sid      = "SendToOwnDeadLetterQueue"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.dlq[each.key].arn]
      },
    ]
  })
}

resource "aws_scheduler_schedule" "job" {
  # checkov:skip=CKV_AWS_297: a schedule holds no data to protect (its input is the scheduled time and attempt placeholders); Scheduler encrypts it with its service key.
  for_each = local.jobs

  name        = "${var.environment}-${each.key}"
  group_name  = aws_scheduler_schedule_group.jobs.name
  description = each.value.description
  state       = var.schedules_enabled ? "ENABLED" : "DISABLED"

  # The catalog's 5-field UTC cron in EventBridge form (`?` day field, SUN = 1, year *).
  schedule_expression          = each.value.schedule_expression
  schedule_expression_timezone = "UTC"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.fn[each.key].arn
    role_arn = aws_iam_role.scheduler[each.key].arn
    input    = local.scheduler_input

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = each.value.max_deliveries - 1
    }

    dead_letter_config {
      arn = aws_sqs_queue.dlq[each.key].arn
    }
  }

  depends_on = [aws_iam_role_policy.scheduler]
}
