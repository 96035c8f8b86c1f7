/* test_draft.c - placeholder; the tests follow. */
int main(void)
{
	return 0;
}
