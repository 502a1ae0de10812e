# Alarms per function, notifying var.alarm_actions. The thresholds are the platform's SLA alert
# thresholds, generated into local.alarm_thresholds (functions.tf.json) by `conveyor gen terraform`.

# A message in any dead-letter queue needs a person: inspect it, fix the cause, redrive it.
resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each = local.functions

  alarm_name        = "${var.environment}-${each.key}-dlq-not-empty"
  alarm_description = "The dead-letter queue of ${each.key} holds messages."
  namespace         = "AWS/SQS"
  metric_name       = "ApproximateNumberOfMessagesVisible"
  dimensions = {
    QueueName = aws_sqs_queue.dlq[each.key].name
  }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# The SLA's dead-letter threshold: past it, failures pile up faster than anyone handles them.
resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = local.functions

  alarm_name          = "${var.environment}-${each.key}-dlq-depth"
  alarm_description   = "The dead-letter queue of ${each.key} holds over ${local.alarm_thresholds.dlq_depth} messages."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = local.alarm_thresholds.dlq_depth
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# Event lag as SQS tells it: the oldest message of a function's queue, two minutes running.
resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  for_each = local.topic_functions

  alarm_name          = "${var.environment}-${each.key}-oldest-message"
  alarm_description   = "The oldest message of ${each.key}'s queue waits over ${local.alarm_thresholds.oldest_message_age_seconds} s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.queue[each.key].name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = local.alarm_thresholds.oldest_message_age_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# A Lambda error is a crash or a time-out (a handler's failures are reported per message in
# batchItemFailures, and end in the DLQ alarms above).
resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = local.functions

  alarm_name          = "${var.environment}-${each.key}-errors"
  alarm_description   = "The Lambda ${each.key} crashed or timed out."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = local.alarm_thresholds.lambda_errors
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}

# Throttled invocations: the function's reserved concurrency (or the account's) is too small.
resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each = local.functions

  alarm_name          = "${var.environment}-${each.key}-throttles"
  alarm_description   = "Invocations of the Lambda ${each.key} were throttled."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = local.alarm_thresholds.lambda_throttles
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
