// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control API client over a unix socket with libcurl's easy interface.
 */
#include "vpnwall/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "vpnwall/util.h"

#define BODY_MAX (64 * 1024 * 1024)

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
	struct vw_buf *b = userp;
	size_t n = size * nmemb;

	if (b->len + n > BODY_MAX)
		return 0;
	vw_buf_append(b, data, n);
	return b->oom ? 0 : n;
}

int vw_client_get(const char *socket, const char *path_and_query, long *ret_status, char **ret_body)
{
	struct vw_buf b = { 0 };
	char url[2048];
	CURLcode res;
	CURL *c;
	long code = 0;

	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		return -ENOMEM;
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	snprintf(url, sizeof(url), "http://vpnwalld%s", path_and_query);
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
	(void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	res = curl_easy_perform(c);
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	if (res != CURLE_OK) {
		vw_buf_done(&b);
		return res == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
	}
	*ret_status = code;
	*ret_body = b.p ? b.p : strdup("");
	return *ret_body ? 0 : -ENOMEM;
}

char *vw_client_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *out;

	if (!e)
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}
