"""loginless requests: Client requests (questionnaires) with the require-login switch; answers and files."""
