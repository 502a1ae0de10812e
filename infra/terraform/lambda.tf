# One Lambda per function: its log group, its role (least privilege: its own log group, queue,
# DLQ and the bus) and, for jobs, where failed asynchronous invocations go.

resource "aws_cloudwatch_log_group" "fn" {
  # checkov:skip=CKV_AWS_158: CloudWatch Logs encrypts every log group at rest with a service key; the functions log no secrets, so a customer-managed key would add cost and a key policy to maintain for nothing.
  # checkov:skip=CKV_AWS_338: retention is the operator's choice (var.log_retention_days, 30 days by default); set 365 or more where logs are an audit trail.
  for_each = local.functions

  name              = "/aws/lambda/${var.environment}-${each.key}"
  retention_in_days = var.log_retention_days
}

resource "aws_iam_role" "lambda" {
  for_each = local.functions

  name        = "${var.environment}-${each.key}-lambda"
  description = "Runs the conveyor function ${each.key}."
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "LambdaAssumesRole"
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = ["sts:AssumeRole"]
    }]
  })
}

# What every function does: write its logs and traces, publish to the bus, dead-letter into its
# own DLQ (a topic function's poison messages; a job's failed asynchronous invocations).
resource "aws_iam_role_policy" "lambda" {
  for_each = local.functions

  name = "conveyor-function"
  role = aws_iam_role.lambda[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.fn[each.key].arn}:*"]
      },
      {
        Sid      = "PublishToBus"
        Effect   = "Allow"
        Action   = ["events:PutEvents"]
        Resource = [aws_cloudwatch_event_bus.bus.arn]
      },
      {
        Sid      = "SendToOwnDeadLetterQueue"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [aws_sqs_queue.dlq[each.key].arn]
      },
      {
        # conveyor publishes the events of ordered functions straight to their FIFO queues.
        Sid      = "SendToOrderedQueues"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [for name, f in local.ordered_functions : aws_sqs_queue.queue[name].arn]
      },
      {
        # X-Ray has no resource-level permissions.
        Sid      = "WriteTraces"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
        Resource = ["*"]
      },
    ]
  })
}

# What a topic function's event source mapping needs on its own queue.
resource "aws_iam_role_policy" "queue" {
  for_each = local.topic_functions

  name = "conveyor-queue"
  role = aws_iam_role.lambda[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ConsumeOwnQueue"
      Effect   = "Allow"
      Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
      Resource = [aws_sqs_queue.queue[each.key].arn]
    }]
  })
}

# A saga orchestrator arms its timers as delay messages to its own queue.
resource "aws_iam_role_policy" "saga_timers" {
  for_each = local.saga_orchestrators

  name = "conveyor-saga-timers"
  role = aws_iam_role.lambda[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ArmTimersOnOwnQueue"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = [aws_sqs_queue.queue[each.key].arn]
    }]
  })
}

# Network interfaces in the VPC, only when the Lambdas run in one.
resource "aws_iam_role_policy_attachment" "vpc" {
  for_each = { for name, f in local.functions : name => f if local.in_vpc }

  role       = aws_iam_role.lambda[each.key].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "fn" {
  # checkov:skip=CKV_AWS_116: a Lambda DLQ only catches asynchronous invocations. Topic functions are invoked synchronously by their event source mapping and dead-letter through their queue's redrive policy; jobs send failed runs to the same DLQ through aws_lambda_function_event_invoke_config.job's on_failure destination.
  # checkov:skip=CKV_AWS_272: the zips are built from source by `cargo lambda build` in the deploying pipeline; there is no AWS Signer profile to validate against.
  # checkov:skip=CKV_AWS_173: Lambda encrypts environment variables at rest with its service key, and the environment holds no secret: the functions get the database secret's ARN and read its value from Secrets Manager at cold start (see README), so a customer-managed key would protect nothing.
  for_each = local.functions

  function_name = "${var.environment}-${each.key}"
  description   = each.value.description
  role          = aws_iam_role.lambda[each.key].arn

  # `cargo lambda build --release --arm64 --output-format zip` output.
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${var.lambda_artifact_dir}/${each.key}/bootstrap.zip"
  source_code_hash = filebase64sha256("${var.lambda_artifact_dir}/${each.key}/bootstrap.zip")

  memory_size                    = each.value.memory_mb
  timeout                        = each.value.timeout_seconds
  reserved_concurrent_executions = var.reserve_concurrency ? local.function_concurrency[each.key] : -1

  environment {
    variables = merge({
      # The secret's ARN, never its value: the function reads it at cold start.
      CONVEYOR_DATABASE_SECRET_ARN = var.database_secret_arn
      CONVEYOR_DB_POOL_SIZE        = tostring(var.database_pool_size)
      CONVEYOR_EVENT_BUS           = aws_cloudwatch_event_bus.bus.name
      CONVEYOR_DLQ_URL             = aws_sqs_queue.dlq[each.key].url
      CONVEYOR_MIGRATE             = var.migrate_on_cold_start ? "true" : "false"
      # Where the events of ordered functions go directly (queue, topics, ordering key).
      CONVEYOR_ORDERED_ROUTES = jsonencode([
        for name, f in local.ordered_functions : {
          queue_url = aws_sqs_queue.queue[name].url
          topics    = f.topics
          key       = f.ordering_key
        }
      ])
      },
      # Lambda takes no empty values: the options only when there are some.
      var.database_url_options == "" ? {} : { CONVEYOR_DATABASE_URL_OPTIONS = var.database_url_options },
      # What the maintenance job keeps and how much one run deletes; no other function prunes.
      each.key == local.maintenance_function ? {
        CONVEYOR_INBOX_RETENTION_DAYS = tostring(var.inbox_retention_days)
        CONVEYOR_EVENT_RETENTION_DAYS = tostring(var.event_retention_days)
        CONVEYOR_PRUNE_BATCHES        = tostring(var.prune_batches)
      } : {},
      # A saga orchestrator's own queue, where its timers wait as delay messages.
      length([for name, f in local.saga_orchestrators : name if name == each.key]) > 0 ? {
        CONVEYOR_SAGA_TIMER_QUEUE_URL = aws_sqs_queue.queue[each.key].url
      } : {},
    )
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.fn[each.key].name
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [true] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  depends_on = [aws_iam_role_policy.lambda, aws_iam_role_policy.database_secret, aws_iam_role_policy.saga_timers, aws_iam_role_policy_attachment.vpc]
}

# Scheduler invokes jobs asynchronously: a failed run is retried by Lambda up to the catalog's
# deliveries, then lands in the job's DLQ.
resource "aws_lambda_function_event_invoke_config" "job" {
  for_each = local.jobs

  function_name                = aws_lambda_function.fn[each.key].function_name
  maximum_retry_attempts       = min(2, each.value.max_deliveries - 1)
  maximum_event_age_in_seconds = 3600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dlq[each.key].arn
    }
  }

  depends_on = [aws_iam_role_policy.lambda]
}
