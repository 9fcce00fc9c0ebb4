"""The four engines that turn blueprint sections into a working CRM."""
