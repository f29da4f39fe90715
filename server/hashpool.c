/* hashpool.c: argon2id on a few threads of its own. A login's password check is handed here and its
 * connection suspended, so a flood of logins takes these threads and their queue, never the HTTP
 * workers that answer every other route. When the queue is full the login is refused at once (503).
 */
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct hash_job *head, *tail;
static int taken; /* jobs queued or running, and slots reserved for jobs about to be queued */
static int capacity;
static int stopping;
static int nthreads;
static pthread_t threads[HASHPOOL_MAX_THREADS];

static void job_run(struct hash_job *job)
{
	if (job->op == HASH_VERIFY)
		job->result =
		    crypto_pwhash_str_verify(job->hash, job->password, strlen(job->password)) == 0;
	else
		job->result = crypto_pwhash_str(job->hash, job->password, strlen(job->password),
		                                PWHASH_OPSLIMIT, PWHASH_MEMLIMIT) == 0
		                  ? 0
		                  : -1;
	sodium_memzero(job->password, sizeof(job->password));
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		struct hash_job *job;
		struct MHD_Connection *conn;

		pthread_mutex_lock(&lock);
		/* stopping ends a worker only when no job is queued nor reserved: a login that
		 * reserved its slot just before the stop still submits, and its connection must
		 * come back */
		while (!head && !(stopping && taken == 0))
			pthread_cond_wait(&wake, &lock);
		if (!head) { /* stopping, and nothing left to do */
			pthread_cond_broadcast(&wake);
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		job = head;
		head = job->next;
		if (!head)
			tail = NULL;
		pthread_mutex_unlock(&lock);

		job_run(job);
		conn = job->conn;
		pthread_mutex_lock(&lock);
		taken--;
		if (stopping && taken == 0)
			pthread_cond_broadcast(&wake); /* the other workers may end now */
		pthread_mutex_unlock(&lock);
		/* After this store the request may finish and free the job on an HTTP thread: touch
		 * it no more. */
		atomic_store(&job->done, 1);
		if (conn)
			MHD_resume_connection(conn);
	}
}

int hashpool_start(int threads_wanted, int queue)
{
	if (threads_wanted < 1 || threads_wanted > HASHPOOL_MAX_THREADS || queue < 0)
		return -1;
	pthread_mutex_lock(&lock);
	stopping = 0;
	taken = 0;
	head = tail = NULL;
	capacity = threads_wanted + queue;
	pthread_mutex_unlock(&lock);
	for (nthreads = 0; nthreads < threads_wanted; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, worker, NULL) != 0) {
			log_err("hashpool: cannot start a hashing thread");
			hashpool_stop();
			return -1;
		}
	return 0;
}

int hashpool_reserve(void)
{
	int ok;

	pthread_mutex_lock(&lock);
	ok = !stopping && nthreads > 0 && taken < capacity;
	if (ok)
		taken++;
	pthread_mutex_unlock(&lock);
	return ok ? 0 : -1;
}

void hashpool_submit(struct hash_job *job)
{
	atomic_store(&job->done, 0);
	job->next = NULL;
	pthread_mutex_lock(&lock);
	if (tail)
		tail->next = job;
	else
		head = job;
	tail = job;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
}

int hashpool_busy(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = taken;
	pthread_mutex_unlock(&lock);
	return n;
}

void hashpool_stop(void)
{
	/* the queued jobs are finished first: each has a suspended connection the daemon must get
	 * back */
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
}

struct hash_job *hash_job_new(enum hash_op op, const char *hash, const char *password)
{
	struct hash_job *job;

	if (strlen(password) >= sizeof(job->password) ||
	    (hash && strlen(hash) >= sizeof(job->hash)))
		return NULL;
	if (!(job = calloc(1, sizeof(*job))))
		return NULL;
	job->op = op;
	if (hash)
		memcpy(job->hash, hash, strlen(hash) + 1);
	memcpy(job->password, password, strlen(password) + 1);
	return job;
}

void hash_job_free(struct hash_job *job)
{
	if (!job)
		return;
	sodium_memzero(job, sizeof(*job));
	free(job);
}
