"""The online part: a Ray Serve application (REST API, upload inference) over models/ and store/."""
