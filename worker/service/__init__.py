"""The service around the stages: the pipeline that stores and routes a reading, submitting work (in
process or to Celery), the review lifecycle and its accuracy, agencies across years, exports, status and
API tokens. It uses the store and the stages, never a face."""
