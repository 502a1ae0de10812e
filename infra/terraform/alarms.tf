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
