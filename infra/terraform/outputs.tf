output "event_bus_name" {
  description = "The bus conveyor publishes to (CONVEYOR_EVENT_BUS)."
  value       = aws_cloudwatch_event_bus.bus.name
}

output "event_bus_arn" {
  description = "ARN of the bus; external publishers need events:PutEvents on it."
  value       = aws_cloudwatch_event_bus.bus.arn
}

output "queue_urls" {
  description = "Each topic function's SQS queue URL."
  value       = { for name, queue in aws_sqs_queue.queue : name => queue.url }
}

output "dlq_urls" {
  description = "Each function's dead-letter queue URL (redrive a topic function's DLQ with StartMessageMoveTask)."
  value       = { for name, queue in aws_sqs_queue.dlq : name => queue.url }
}

output "function_arns" {
  description = "Each function's Lambda ARN."
  value       = { for name, fn in aws_lambda_function.fn : name => fn.arn }
}

output "function_names" {
  description = "Each function's Lambda name (for `aws lambda invoke`)."
  value       = { for name, fn in aws_lambda_function.fn : name => fn.function_name }
}
