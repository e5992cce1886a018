"""The Faust app: input topics, the batch agent, dead-letter output. Short glue over pipeline/."""
