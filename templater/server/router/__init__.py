"""The app router: the front port's asyncio + httptools proxy and its worker processes, routing
by hostname and path, share levels, sign-in tickets and cookies, CORS, and the pages it serves."""
