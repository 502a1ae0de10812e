# Topic functions: EventBridge rule -> SQS queue (redrive to the DLQ) -> Lambda. Every function
# has a DLQ; a job's receives what Scheduler could not deliver and runs that failed for good.

# An ordered function's queue and DLQ are FIFO (a FIFO queue dead-letters into a FIFO queue).
# Content-based deduplication lets its rule target (which sets no deduplication id) send; the
# publishers set the event id as deduplication id.
resource "aws_sqs_queue" "dlq" {
  for_each = local.functions

  name                        = "${var.environment}-${each.key}-dlq${each.value.ordering_key != null ? ".fifo" : ""}"
  fifo_queue                  = each.value.ordering_key != null
  content_based_deduplication = each.value.ordering_key != null
  message_retention_seconds   = 1209600 # 14 days, the most SQS keeps a message
  sqs_managed_sse_enabled     = true
}

resource "aws_sqs_queue" "queue" {
  for_each = local.topic_functions

  name                        = "${var.environment}-${each.key}${each.value.ordering_key != null ? ".fifo" : ""}"
  fifo_queue                  = each.value.ordering_key != null
  content_based_deduplication = each.value.ordering_key != null
  # Six times the function timeout, as Lambda recommends for SQS event sources.
  visibility_timeout_seconds = 6 * each.value.timeout_seconds
  message_retention_seconds  = 345600 # 4 days
  sqs_managed_sse_enabled    = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_deliveries
  })
}

# Only the function's own queue may dead-letter into its DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each = local.topic_functions

  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.queue[each.key].arn]
  })
}

# One rule per function, matching every topic it subscribes to (detail-type = topic). The
# target forwards the CloudEvent itself (the event's detail) to the queue. An ordered function's
# rule only takes events from outside producers (conveyor's own reach its FIFO queue directly)
# and puts them in one fixed message group.
resource "aws_cloudwatch_event_rule" "topic" {
  for_each = local.topic_functions

  name           = "${var.environment}-${each.key}"
  description    = "Topics of ${each.key}."
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  event_pattern = (each.value.ordering_key == null
    ? jsonencode({ "detail-type" = each.value.topics })
    : jsonencode({
      "detail-type" = each.value.topics
      source        = [{ "anything-but" = local.conveyor_sources }]
    })
  )
}

resource "aws_cloudwatch_event_target" "topic" {
  for_each = { for name, f in local.topic_functions : name => f if f.ordering_key == null }

  rule           = aws_cloudwatch_event_rule.topic[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  target_id      = "queue"
  arn            = aws_sqs_queue.queue[each.key].arn
  input_path     = "$.detail"
}

resource "aws_cloudwatch_event_target" "ordered" {
  for_each = local.ordered_functions

  rule           = aws_cloudwatch_event_rule.topic[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  target_id      = "queue"
  arn            = aws_sqs_queue.queue[each.key].arn
  input_path     = "$.detail"

  sqs_target {
    message_group_id = "external"
  }
}

# The queue accepts messages from its own rule only.
resource "aws_sqs_queue_policy" "queue" {
  for_each = local.topic_functions

  queue_url = aws_sqs_queue.queue[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "OwnRuleSends"
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = ["sqs:SendMessage"]
      Resource  = [aws_sqs_queue.queue[each.key].arn]
      Condition = {
        ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.topic[each.key].arn }
      }
    }]
  })
}

# The function reports the records to retry (batchItemFailures); the others are deleted.
resource "aws_lambda_event_source_mapping" "queue" {
  for_each = local.topic_functions

  event_source_arn = aws_sqs_queue.queue[each.key].arn
  function_name    = aws_lambda_function.fn[each.key].arn
  # A FIFO queue takes batches of at most ten and no batching window.
  batch_size                         = each.value.ordering_key == null ? var.sqs_batch_size : min(10, var.sqs_batch_size)
  maximum_batching_window_in_seconds = each.value.ordering_key == null ? var.sqs_batching_window_seconds : null
  function_response_types            = ["ReportBatchItemFailures"]

  # Within the connection budget (database.tf); SQS event source mappings take at least 2.
  scaling_config {
    maximum_concurrency = max(2, local.function_concurrency[each.key])
  }

  depends_on = [aws_iam_role_policy.queue]
}
