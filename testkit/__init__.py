"""Development support shared by the tests and the benchmarks (never packaged): API Gateway
event factories, the PRD request, and headless Chromium with the app on a real socket."""
