module github.com/lambda-durable-exporter/lambda-durable-exporter/deploy/tools

go 1.26.8
