# The database: the secret every function reads at cold start (never its value in an
# environment or in the state), and the connection budget the functions share.

locals {
  # Every execution environment of a function holds up to var.database_pool_size connections,
  # so a function holds at most its concurrency times that. The budget is what the database
  # accepts minus what other clients keep (migrations, operators, monitoring, superuser slots).
  database_connection_budget = var.database_max_connections - var.database_reserved_connections

  # Fixed before any sharing: the jobs (one run at a time: the catalog's concurrency, 1) and
  # the functions var.function_concurrency names.
  database_fixed_connections = sum(concat([0], [
    for name, f in local.functions : lookup(var.function_concurrency, name, f.kind == "job" ? f.concurrency : 0) * var.database_pool_size
  ]))
  shared_topic_functions = [for name, f in local.topic_functions : name if lookup(var.function_concurrency, name, null) == null]

  # What is left is shared evenly among the other topic functions, up to their catalog
  # concurrency and never under 2, the least an event source mapping's maximum_concurrency takes.
  topic_concurrency_share = floor((local.database_connection_budget - local.database_fixed_connections) / max(1, length(local.shared_topic_functions) * var.database_pool_size))

  # Each function's concurrency: var.function_concurrency where given, else the share above.
  function_concurrency = {
    for name, f in local.functions : name => lookup(var.function_concurrency, name,
    f.kind == "job" ? f.concurrency : max(2, min(f.concurrency, local.topic_concurrency_share)))
  }

  # The most connections the functions can hold at once.
  database_connections = sum(concat([0], [for name, c in local.function_concurrency : c * var.database_pool_size]))
}

# Fails the plan when the functions could hold more connections than the database gives them.
resource "terraform_data" "database_connection_budget" {
  input = {
    budget      = local.database_connection_budget
    connections = local.database_connections
  }

  lifecycle {
    precondition {
      condition     = local.database_connections <= local.database_connection_budget
      error_message = "The functions could hold ${local.database_connections} database connections (each function's concurrency x database_pool_size ${var.database_pool_size}, summed), more than the ${local.database_connection_budget} that database_max_connections (${var.database_max_connections}) minus database_reserved_connections (${var.database_reserved_connections}) leaves: raise database_max_connections (a larger instance, or RDS Proxy in front of the database), or lower database_pool_size, database_reserved_connections or the function_concurrency overrides."
    }
  }
}

# Each function may read the database secret, and nothing else of Secrets Manager; with a
# customer-managed key, decrypt with it through Secrets Manager only.
resource "aws_iam_role_policy" "database_secret" {
  for_each = local.functions

  name = "conveyor-database-secret"
  role = aws_iam_role.lambda[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "ReadDatabaseSecret"
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = [var.database_secret_arn]
      }],
      var.database_secret_kms_key_arn == null ? [] : [{
        Sid       = "DecryptDatabaseSecret"
        Effect    = "Allow"
        Action    = ["kms:Decrypt"]
        Resource  = [var.database_secret_kms_key_arn]
        Condition = { StringEquals = { "kms:ViaService" = "secretsmanager.${var.aws_region}.amazonaws.com" } }
      }],
    )
  })
}
