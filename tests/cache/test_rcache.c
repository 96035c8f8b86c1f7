/* test_rcache.c - placeholder; the tests follow. */
int main(void)
{
	return 0;
}
