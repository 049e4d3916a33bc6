/* Test support: stands in for a helper gone wrong. It says something on stderr and then waits to
 * be killed from outside, using only system calls the helper's seccomp profile allows. */
#include <time.h>
#include <unistd.h>

int main(void)
{
	static const char msg[] = "about to die\n";
	struct timespec ts = {1000, 0};
	if (write(2, msg, sizeof msg - 1) < 0)
		return 1;
	for (;;)
		nanosleep(&ts, NULL);
}
