#!/bin/sh
exec server --port ${PORT}
